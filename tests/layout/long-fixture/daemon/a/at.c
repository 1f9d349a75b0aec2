/* SPDX-License-Identifier: GPL-3.0-or-later */
int at_1(void);
int at_2(void);
int at_3(void);
int at_4(void);
int at_5(void);
int at_6(void);
int at_7(void);
int at_8(void);
int at_9(void);
